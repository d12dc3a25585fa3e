-- Parsing functions of the loader, created in the load's work schema (load_work, made and
-- dropped inside the load's transaction) so that they always match the loader that uses them
-- and leave nothing behind. They are declared parallel safe: the work schema's tables are
-- unlogged tables, not temporary ones, so that PostgreSQL can scan and join them with
-- parallel workers.

-- Every function is a single SQL expression without FROM, so that PostgreSQL inlines it into
-- the calling query (a non-inlined SQL function costs tens of microseconds a call).

create function load_work.mkdate(y int, m int, d int) returns date
language sql immutable parallel safe as $$
    select case
        when y between 1600 and 2200 and m between 1 and 12 and d >= 1
             and d <= case when m = 2 then 28 + (y % 4 = 0 and (y % 100 <> 0 or y % 400 = 0))::int
                           when m in (4, 6, 9, 11) then 30 else 31 end
        then make_date(y, m, d)
    end
$$;

create function load_work.mon(m text) returns int
language sql immutable parallel safe as $$
    select array_position(
        array['JAN','FEB','MAR','APR','MAY','JUN','JUL','AUG','SEP','OCT','NOV','DEC'], m)
$$;

-- v is the trimmed, upper-cased value
create function load_work.raw_date_v(v text) returns date
language sql immutable parallel safe as $$
    select case
        when v ~ '^\d{4}-\d{2}-\d{2}' then
            load_work.mkdate(substr(v, 1, 4)::int, substr(v, 6, 2)::int, substr(v, 9, 2)::int)
        when v ~ '^\d{2}[A-Z]{3}\d{4}' then
            load_work.mkdate(substr(v, 6, 4)::int, load_work.mon(substr(v, 3, 3)), substr(v, 1, 2)::int)
        when v ~ '^\d{2}/\d{2}/\d{4}' then
            load_work.mkdate(substr(v, 7, 4)::int, substr(v, 4, 2)::int, substr(v, 1, 2)::int)
        when v ~ '^\d{8}$' then
            coalesce(
                load_work.mkdate(substr(v, 5, 4)::int, substr(v, 3, 2)::int, substr(v, 1, 2)::int),
                load_work.mkdate(substr(v, 1, 4)::int, substr(v, 5, 2)::int, substr(v, 7, 2)::int))
    end
$$;

-- Any of the contract's date forms, '1600-01-01' included; null when unparseable or empty.
create function load_work.raw_date(s text) returns date
language sql immutable parallel safe as $$
    select load_work.raw_date_v(upper(btrim(s)))
$$;

-- A date, with the SNDS "no date" value 1600-01-01 read as missing.
create function load_work.d(s text) returns date
language sql immutable parallel safe as $$
    select nullif(load_work.raw_date(s), date '1600-01-01')
$$;

create function load_work.num_v(v text) returns numeric
language sql immutable parallel safe as $$
    select case when v ~ '^[+-]?\d{1,15}([.]\d*)?$' then v::numeric end
$$;

-- Numbers with a decimal point or a decimal comma.
create function load_work.num(s text) returns numeric
language sql immutable parallel safe as $$
    select load_work.num_v(replace(btrim(s), ',', '.'))
$$;

create function load_work.int_v(v text) returns int
language sql immutable parallel safe as $$
    select case when v ~ '^[+-]?\d{1,9}([.,]0*)?$' then split_part(replace(v, ',', '.'), '.', 1)::int end
$$;

create function load_work.int(s text) returns int
language sql immutable parallel safe as $$
    select load_work.int_v(btrim(s))
$$;

create function load_work.pid_v(v text) returns varchar(20)
language sql immutable parallel safe as $$
    select case when ltrim(v, '0') = '' then null else left(v, 20) end
$$;

-- Provider numbers: trimmed; empty or all zeros means none.
create function load_work.pid(s text) returns varchar(20)
language sql immutable parallel safe as $$
    select load_work.pid_v(btrim(coalesce(s, '')))
$$;

-- The nine DCIR join keys as one value (the two flow dates already parsed, as day numbers so
-- that any date form matches; the text keys as exported). Declared stable, as concat_ws is:
-- PostgreSQL inlines a SQL function only when its body is no more volatile than the function,
-- and an immutable k9 was called, not inlined, for every row (2 us a call).
create function load_work.k9(
    a text, b date, c text, d text, e text, f date, g text, h text, i text) returns text
language sql stable parallel safe as $$
    select concat_ws('|', a, b - date '2000-01-01', c, d, e, f - date '2000-01-01', g, h, i)
$$;

-- Typed values are parsed once per distinct text value (dates, codes and amounts repeat a lot),
-- then joined: far cheaper than parsing every row. The loader makes those dictionaries
-- (dict_date, dict_int, dict_month, dict_num) with these functions.

-- Exact duplicate lines (a flow re-extracted into the same extract, the same line twice in a
-- file): within work table t, every line whose natural key (k: the nine keys; nk: the line's
-- own key within its service line) was already on an earlier line (by batch, then line) is
-- rejected as 'duplicate line', its value naming the line kept. Ranked among the duplicated
-- keys only, so that no sort of every line is needed. `label` names the key columns.
create function load_work.reject_duplicates(t text, label text) returns void
language plpgsql as $$
begin
    execute format($q$
        update %1$I n set rej = coalesce(n.rej, array[%2$L,
            'same key as ' || case when d.first_batch <> n._batch then b.file_name || ' ' else '' end
                || 'line ' || d.first_line,
            'duplicate line'])
        from (
            select _batch, _line, row_number() over w as rn,
                first_value(_batch) over w as first_batch, first_value(_line) over w as first_line
            from %1$I
            where k is not null
              and (k, nk) in (select k, nk from %1$I where k is not null group by k, nk having count(*) > 1)
            window w as (partition by k, nk order by _batch, _line)
        ) d
        join meta.load_batch b on b.batch_id = d.first_batch
        where d.rn > 1 and n._batch = d._batch and n._line = d._line$q$, t, label);
end
$$;
