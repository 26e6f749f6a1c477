-- One runner.
-- :id  text
select
-- @include runner_columns
  from runners where id = :id
