# Catalogue loads: local jobs on the head node. With SQLite they are serialised by the
# `catalogue` resource (profiles set it to 1: one writer at a time); with PostgreSQL they take
# none and run side by side, queued per study by the store's own locks. A study's load replaces
# all its rows; a run's load replaces that run's rows.


rule catalogue_load_study:
    input:
        config=P("study_config"),
        references=P("study_references"),
        ena=P("ena"),
        memory_policy=P("memory_policy"),
    output:
        P("loaded_study"),
    log:
        LOG("catalogue_load_study", run=False),
    localrule: True
    resources:
        catalogue=smk.catalogue_slots(CFG),
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
        catalogue=smk.catalogue_slots(CFG),
    run:
        smk.load_run(CFG, PLANS[wildcards.study], wildcards.run, Path(output[0]))


# public.db: the catalogue's public, unsuppressed records only, written once every load of this
# invocation is done (its inputs are the load markers the `all` target collects) and swapped in
# atomically. The onsuccess/onerror handlers never wait for it: after a failure the catalogue is
# reloaded there and `mgnify-db serve` publishes again, as public.db is then older.
rule catalogue_publish:
    input:
        all_loaded,
    output:
        P("published"),
    log:
        f"{RESULTS}/logs/catalogue_publish.log",
    localrule: True
    resources:
        catalogue=1,
    run:
        smk.publish(CFG, Path(output[0]), Path(log[0]))
