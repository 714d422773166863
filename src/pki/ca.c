/* ca.c: placeholder while the issuance service is written (see ca.h). */
