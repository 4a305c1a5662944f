# Catalogue loads: local, and serialised by the `catalogue` resource (profiles set it to 1).


rule catalogue_load_study:
    input:
        config=P("study_config"),
        ena=P("ena"),
    output:
        P("loaded_study"),
    log:
        f"{LOGS}/catalogue_load_study/{{study}}.log",
    localrule: True
    resources:
        catalogue=1,
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/catalogue_load.py"


rule catalogue_load_run:
    input:
        unpack(run_results),
    output:
        P("loaded_run"),
    log:
        f"{LOGS}/catalogue_load_run/{{study}}/{{run}}.log",
    localrule: True
    resources:
        catalogue=1,
    conda:
        "../envs/mgnify-db.yaml"
    script:
        "../scripts/catalogue_load.py"
