-- Parsing functions of the loader, created as session-temporary functions (pg_temp) so that
-- they always match the loader that uses them and leave nothing behind.

-- Every function is a single SQL expression without FROM, so that PostgreSQL inlines it into
-- the calling query (a non-inlined SQL function costs tens of microseconds a call).

create function pg_temp.mkdate(y int, m int, d int) returns date
language sql immutable as $$
    select case
        when y between 1600 and 2200 and m between 1 and 12 and d >= 1
             and d <= case when m = 2 then 28 + (y % 4 = 0 and (y % 100 <> 0 or y % 400 = 0))::int
                           when m in (4, 6, 9, 11) then 30 else 31 end
        then make_date(y, m, d)
    end
$$;

create function pg_temp.mon(m text) returns int
language sql immutable as $$
    select array_position(
        array['JAN','FEB','MAR','APR','MAY','JUN','JUL','AUG','SEP','OCT','NOV','DEC'], m)
$$;

-- v is the trimmed, upper-cased value
create function pg_temp.raw_date_v(v text) returns date
language sql immutable as $$
    select case
        when v ~ '^\d{4}-\d{2}-\d{2}' then
            pg_temp.mkdate(substr(v, 1, 4)::int, substr(v, 6, 2)::int, substr(v, 9, 2)::int)
        when v ~ '^\d{2}[A-Z]{3}\d{4}' then
            pg_temp.mkdate(substr(v, 6, 4)::int, pg_temp.mon(substr(v, 3, 3)), substr(v, 1, 2)::int)
        when v ~ '^\d{2}/\d{2}/\d{4}' then
            pg_temp.mkdate(substr(v, 7, 4)::int, substr(v, 4, 2)::int, substr(v, 1, 2)::int)
        when v ~ '^\d{8}$' then
            coalesce(
                pg_temp.mkdate(substr(v, 5, 4)::int, substr(v, 3, 2)::int, substr(v, 1, 2)::int),
                pg_temp.mkdate(substr(v, 1, 4)::int, substr(v, 5, 2)::int, substr(v, 7, 2)::int))
    end
$$;

-- Any of the contract's date forms, '1600-01-01' included; null when unparseable or empty.
create function pg_temp.raw_date(s text) returns date
language sql immutable as $$
    select pg_temp.raw_date_v(upper(btrim(s)))
$$;

-- A date, with the SNDS "no date" value 1600-01-01 read as missing.
create function pg_temp.d(s text) returns date
language sql immutable as $$
    select nullif(pg_temp.raw_date(s), date '1600-01-01')
$$;

create function pg_temp.num_v(v text) returns numeric
language sql immutable as $$
    select case when v ~ '^[+-]?\d{1,15}([.]\d*)?$' then v::numeric end
$$;

-- Numbers with a decimal point or a decimal comma.
create function pg_temp.num(s text) returns numeric
language sql immutable as $$
    select pg_temp.num_v(replace(btrim(s), ',', '.'))
$$;

create function pg_temp.int_v(v text) returns int
language sql immutable as $$
    select case when v ~ '^[+-]?\d{1,9}([.,]0*)?$' then split_part(replace(v, ',', '.'), '.', 1)::int end
$$;

create function pg_temp.int(s text) returns int
language sql immutable as $$
    select pg_temp.int_v(btrim(s))
$$;

create function pg_temp.pid_v(v text) returns varchar(20)
language sql immutable as $$
    select case when ltrim(v, '0') = '' then null else left(v, 20) end
$$;

-- Provider numbers: trimmed; empty or all zeros means none.
create function pg_temp.pid(s text) returns varchar(20)
language sql immutable as $$
    select pg_temp.pid_v(btrim(coalesce(s, '')))
$$;

-- The nine DCIR join keys as one value (the two flow dates already parsed, as day numbers so
-- that any date form matches; the text keys as exported).
create function pg_temp.k9(
    a text, b date, c text, d text, e text, f date, g text, h text, i text) returns text
language sql immutable as $$
    select concat_ws('|', a, b - date '2000-01-01', c, d, e, f - date '2000-01-01', g, h, i)
$$;

-- Typed values are parsed once per distinct text value (dates, codes and amounts repeat a lot),
-- then joined: far cheaper than parsing every row.
create temp table dict_date (s text primary key, d date, bad boolean) on commit drop;
create temp table dict_int (s text primary key, i int, bad boolean) on commit drop;
create temp table dict_month (s text primary key, i int, bad boolean) on commit drop;
create temp table dict_num (s text primary key, n numeric) on commit drop;
