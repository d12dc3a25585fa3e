{#-
  Incremental exposure episodes (docs/refresh.md), shared by int_drug_episodes_built (per
  patient x drug) and scan_drug_episodes_built (per patient x screen level x drug): `keys` are
  the columns an episode sequence is built over, patient_id first.

  For a patient changed from day d (a dispensing, its regularisation, his death date; the drug
  referential: everyone), the episodes that closed before d, grace and end delay included, stay.
  The episode still open at d is carried on from a seed row that stands for its dispensings
  before d (its first day, the days it covered, its number of dispensings): the coverage
  recurrence needs nothing else, so a patient treated for years is not re-read from his first
  dispensing. When the open episode had dispensings on or after d (a late correction), it is
  rebuilt from its first dispensing. exact = false (min_purchases > 1): a changed patient is
  rebuilt whole (an episode's number counts the purchase groups it drops).
-#}

{#-
  Pre-hook: episode_changes (patient, d) and, for each key the changed patient has episodes of,
  episode_scope: how many episodes stay (kept_episodes; the target's rows after them are
  replaced: tail_from), and the episode open at d: carried on from a seed row when all its
  dispensings are before d (seed_date, seed_days, seed_dispensings, seed_last_date), else
  re-read from its first dispensing (read_from).
-#}
{% macro episode_scope(keys, exact=true, margin=none) -%}
    {%- if not is_incremental() %}select 1{% else -%}
    {%- set margin = margin if margin is not none
        else [var_int('grace_days', 30) | int, var_int('end_delay_days', 0) | int] | max -%}
    {%- set key_list = keys | join(', ') -%}
    create temporary table episode_changes on commit drop as
    {%- if exact %}
    {{ refresh_changes(['dispensing', 'death', 'drug']) }};
    {%- else %}
    select patient_id, '-infinity'::date as changed_from
    from ({{ refresh_changes(['dispensing', 'death', 'drug']) }}) as changes;
    {%- endif %}
    analyze episode_changes;

    create temporary table episode_scope on commit drop as
    with episodes as (
        select
            {%- for key in keys %}
            episodes.{{ key }},
            {%- endfor %}
            episodes.episode_number,
            episodes.first_dispensing_date,
            episodes.last_dispensing_date,
            episodes.covered_end,
            episodes.n_dispensings,
            episodes.covered_end + {{ margin }} >= changes.changed_from as is_open,
            changes.changed_from
        from {{ this }} as episodes
        inner join episode_changes as changes
            on episodes.patient_id = changes.patient_id
    ),

    per_key as (
        select
            {{ key_list }},
            changed_from,
            count(*) filter (where not is_open) as kept_episodes,
            min(episode_number) filter (where is_open) as open_number
        from episodes
        group by {{ key_list }}, changed_from
    )

    select
        {%- for key in keys %}
        per_key.{{ key }},
        {%- endfor %}
        per_key.kept_episodes,
        per_key.kept_episodes + 1 as tail_from,
        case when open.last_dispensing_date < per_key.changed_from then open.first_dispensing_date end as seed_date,
        case when open.last_dispensing_date < per_key.changed_from then open.covered_end - open.first_dispensing_date end as seed_days,
        case when open.last_dispensing_date < per_key.changed_from then open.n_dispensings end as seed_dispensings,
        case when open.last_dispensing_date < per_key.changed_from then open.last_dispensing_date end as seed_last_date,
        {%- if exact %}
        case
            when open.last_dispensing_date >= per_key.changed_from
                then least(open.first_dispensing_date, per_key.changed_from)
            else per_key.changed_from
        end as read_from
        {%- else %}
        per_key.changed_from as read_from
        {%- endif %}
    from per_key
    left join episodes as open
        on {% for key in keys %}per_key.{{ key }} = open.{{ key }} and {% endfor -%}
        per_key.open_number = open.episode_number;
    analyze episode_scope;

    -- per changed patient, the first day any of his episode sequences is read from
    create temporary table episode_reads on commit drop as
    select changes.patient_id, least(changes.changed_from, min(scope.read_from)) as tail_from
    from episode_changes as changes
    left join episode_scope as scope
        on changes.patient_id = scope.patient_id
    group by changes.patient_id, changes.changed_from;
    analyze episode_reads
    {%- endif %}
{%- endmacro %}


{#- The join of a relation's rows to their episode_scope row (incremental runs). -#}
{% macro episode_scope_join(relation, keys) -%}
    left join episode_scope as scope
        on {% for key in keys %}{{ relation }}.{{ key }} = scope.{{ key }}{% if not loop.last %}
        and {% endif %}{% endfor %}
{%- endmacro %}


{#-
  The dispensings an episode build reads: `relation` (keys, dispensing_id, dispensing_date,
  days_covered); in an incremental run, each changed patient's from read_from (or his changed
  day) on, read through the dispensings' (patient_id, date) index (tail_rows), plus the seed
  rows of the episodes carried on.
-#}
{% macro episode_dispensings(relation, keys) -%}
    select
        {%- for key in keys %}
        dispensings.{{ key }},
        {%- endfor %}
        dispensings.dispensing_id,
        dispensings.dispensing_date,
        dispensings.days_covered
    {%- if not is_incremental() %}
    from {{ relation }} as dispensings
    {%- else %}
    from ({{ tail_rows(relation, 'dispensing_date', 'episode_reads') }}) as dispensings
    inner join episode_changes as changes
        on dispensings.patient_id = changes.patient_id
    {{ episode_scope_join('dispensings', keys) }}
    where dispensings.dispensing_date >= coalesce(scope.read_from, changes.changed_from)
    union all
    -- the open episode's dispensings before d, as one row covering what they covered
    select
        {{ keys | join(', ') }},
        -1 as dispensing_id,
        seed_date as dispensing_date,
        seed_days as days_covered
    from episode_scope
    where seed_date is not null
    {%- endif %}
{%- endmacro %}


{#-
  An episode's counters in the target (the CTE `episodes` of build_episodes, joined to its
  scope row by episode_scope_join in incremental runs): its number after the kept episodes, its
  dispensings and last dispensing with those its seed row stands for.
-#}
{% macro episode_number_column() -%}
    {%- if is_incremental() -%}
    (episodes.episode_number + coalesce(scope.kept_episodes, 0))::int
    {%- else -%}
    episodes.episode_number
    {%- endif -%}
{%- endmacro %}

{% macro episode_dispensings_column() -%}
    {%- if is_incremental() -%}
    (episodes.n_dispensings
        + case when episodes.episode_number = 1 and scope.seed_date is not null then scope.seed_dispensings - 1 else 0 end
    )::int
    {%- else -%}
    episodes.n_dispensings
    {%- endif -%}
{%- endmacro %}

{% macro episode_last_dispensing_column() -%}
    {%- if is_incremental() -%}
    case
        when episodes.episode_number = 1 and scope.seed_date is not null
            then greatest(episodes.last_dispensing_date, scope.seed_last_date)
        else episodes.last_dispensing_date
    end
    {%- else -%}
    episodes.last_dispensing_date
    {%- endif -%}
{%- endmacro %}
