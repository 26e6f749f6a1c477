-- Records a certificate issued to a runner (enrolment or renewal).
-- :serial_number    text         lowercase hex
-- :runner_id        text
-- :fingerprint256   text
-- :certificate_pem  text
-- :not_after        timestamptz
insert into runner_certificates (serial_number, runner_id, fingerprint256, certificate_pem, not_after)
values (:serial_number, :runner_id, :fingerprint256, :certificate_pem, :not_after)
