{{ config(materialized='view', schema='pathways', tags=['pathways']) }}
{#-
  Drug classes of the pathways area: class name -> ATC prefixes, and the role of each class
  (adherence: chronic classes whose PDC/MPR are measured; line: glucose-lowering classes whose
  sequences make the lines of therapy and the monthly states). Override with
  `--vars '{pathways_drug_classes: {...}}'` (same shape as the default below).
-#}
{%- set default_classes = {
    'metformin':        {'atc': ['A10BA'], 'roles': ['line']},
    'sulfonylurea':     {'atc': ['A10BB'], 'roles': ['line']},
    'dpp4':             {'atc': ['A10BH'], 'roles': ['line']},
    'glitazone':        {'atc': ['A10BG'], 'roles': ['line']},
    'insulin':          {'atc': ['A10A'],  'roles': ['line']},
    'glucose_lowering': {'atc': ['A10'],   'roles': ['adherence']},
    'statin':           {'atc': ['C10AA'], 'roles': ['adherence']},
    'antihypertensive': {'atc': ['C02', 'C03', 'C07', 'C08', 'C09'], 'roles': ['adherence']},
    'antiplatelet':     {'atc': ['B01AC'], 'roles': ['adherence']},
} -%}
{%- set classes = var('pathways_drug_classes', default_classes) %}

{%- set rows = [] %}
{%- for name, spec in classes.items() %}
{%- for prefix in spec['atc'] %}
{%- for role in spec['roles'] %}
{%- do rows.append("('" ~ name ~ "', '" ~ prefix ~ "', '" ~ role ~ "')") %}
{%- endfor %}
{%- endfor %}
{%- endfor %}

with class_prefixes as (
    select *
    from (
        values
        {{ rows | join(',\n        ') }}
    ) as classes (drug_class, atc_prefix, class_role)
),

final as (
    select
        drug_class::{{ text_type() }} as drug_class,
        atc_prefix::{{ text_type() }} as atc_prefix,
        class_role::{{ text_type() }} as class_role
    from class_prefixes
)

select * from final
