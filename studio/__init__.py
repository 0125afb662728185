"""The studio engine: data, models, methods, training runs and inference. Never imports gradio.

The engine is a stack of packages, each importing only those below it (tests/test_layers.py keeps it so,
imports inside functions included):

    base      names and facts every layer shares: errors, the run folder, texts, settings, devices, people
    models    the catalog of base models and how a name becomes a folder
    methods   full, freeze and the PEFT methods, each owning what it does
    data      reading files, checks, the one split policy, token lengths, uploads
    tasks     the task contract, one package per task (the same rooms in each) and the chat code chat tasks share
    serve     finished runs put to use: predictions, chats, labelled files
    augment   new training rows made from the training split
    distill   a finished run teaching a new one
    judge     a finished classifier run scoring another run's replies (the classifier reward)
    config    RunConfig: its sections, validation, loading
    training  the recipe, its hooks, the memory estimate, and what plugs into every run
    runs      run folders, the registry and queue, the worker process
    evals     benchmarks of a finished run and its base (lm-eval), scored in a process of their own
    views     what pages and the CLI show: the data check, run tables, figures
    export    adapters, merged models, ONNX, model cards, reproduce scripts
    labels    label review, query strategies, labelling projects
    sweeps    Optuna sweeps whose trials are runs
    cli       the `studio` command

(The order is LAYERS below; tests/test_layers.py checks that this list keeps it.)
"""

__version__ = "0.1.0"

LAYERS = ("base", "models", "methods", "data", "tasks", "serve", "augment", "distill", "judge", "config", "training",
          "runs", "evals", "views", "export", "labels", "sweeps", "cli")
