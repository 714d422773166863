/* torwart-sim: placeholder main while the skeleton is wired (replaced in this session). */
#include <stdio.h>
int main(void)
{
	fputs("not built yet\n", stderr);
	return 1;
}
