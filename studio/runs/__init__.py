"""Runs: run folders, the registry and queue, and the processes that train them.

    store        Store, acting for one person: create (every check first, the run features' too), list, show, stop,
                 kill, resume, delete, share; the SQLite registry and the queue (dispatch: a worker starts only
                 when its run's turn comes)
    quotas       a person's limits and bounds, and the files their runs may read
    upkeep       setting a runs folder right after a crash; the app's thread that keeps the queue moving
    worker       `python -m studio.runs.worker RUN_DIR`: one run's process, in its own session
    distributed  several processes (accelerate launch) and machines training one run
    prewarm      a spare worker with torch imported, forked for each run the app starts
    spare_client asking a spare for workers (the app's, lent to sweep drivers and to workers)
    endpoint     the OpenAI-compatible endpoint bound to a runs folder: who an API key is, which runs they may call

serve is imported so that the playground's models give their GPU memory back before a run starts on that GPU, and
for the endpoint.

Imports: base, models, data, tasks, config, training, serve, augment.
"""
