-- An attempt row is inserted when its job is leased and updated once, when the outcome is
-- recorded. That update changes no indexed column, so it can be a HOT update (no new index
-- entries) — if the page has room for the new version, which with the default fillfactor it
-- never has: attempts are appended to full pages. Leave room on each page.
alter table job_attempts set (fillfactor = 70);
