"""Runs: run folders, the registry and queue, and the processes that train them.

    store        Store: create (every check first, the run features' too), list, show, stop, kill, resume, delete;
                 the SQLite registry and the queue of each device
    worker       `python -m studio.runs.worker RUN_DIR`: one run's process, in its own session
    distributed  several processes (accelerate launch) and machines training one run
    prewarm      a spare worker with torch imported, forked for each run the app starts

serve is imported so that the playground's models give their GPU memory back before a run starts on that GPU.

Imports: base, models, methods, data, tasks, config, training, serve.
"""
