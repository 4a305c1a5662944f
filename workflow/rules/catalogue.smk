# Catalogue loads: local, in the head process (no interpreter start per load), serialised by
# the `catalogue` resource (profiles set it to 1). A study's load replaces all its rows; a run's
# load replaces that run's rows.


rule catalogue_load_study:
    input:
        config=P("study_config"),
        ena=P("ena"),
        memory_policy=P("memory_policy"),
    output:
        P("loaded_study"),
    log:
        LOG("catalogue_load_study", run=False),
    localrule: True
    resources:
        catalogue=1,
    run:
        smk.load_study(CFG, PLANS[wildcards.study], Path(output[0]))


rule catalogue_load_run:
    input:
        unpack(run_targets),
    output:
        P("loaded_run"),
    log:
        LOG("catalogue_load_run"),
    localrule: True
    resources:
        catalogue=1,
    run:
        smk.load_run(CFG, PLANS[wildcards.study], wildcards.run, Path(output[0]))
