-- 0014_alarm_acks.sql: acknowledgement of gateway alarms (issue 15; owner: gwa, code
-- src/store/store_alarms.c). One row per acknowledged message of gateway_messages: who
-- took it over, when, and a note. A message has at most one acknowledgement; it is
-- never changed or removed (the admin log has the history).
-- Portable SQL (the primary key is a table constraint, so PostgreSQL keeps the given id).
CREATE TABLE gateway_message_acks (
	message_id  INTEGER NOT NULL REFERENCES gateway_messages(id),
	acked_by    TEXT NOT NULL,
	acked_ms    INTEGER NOT NULL,
	note        TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (message_id)
);
