"""Training: one run, top to bottom, and what plugs into every run.

    recipe        run(): the run's steps in order; build_model, parameter_counts
    hooks         the named points where features plug in (before a run exists, while it trains)
    features      the features every run has: augmentation, distillation, the memory check, the base's
                  scores, a sweep's pruning, CPU sharing
    parts         what a reproduce script shares with the recipe: steps, the model, the Trainer's arguments
    callbacks     metrics.jsonl and status.json kept current; the stop file honoured
    checkpoints   which checkpoint a resume continues from
    saving        the final model saved with what inference needs
    tracking      TensorBoard and Weights & Biases
    memory        will it fit? the estimate before launch, the peak measured
    lengths       an empty max_length chosen from the data (95% of the records, within model and memory)
    precision     the number formats: the base's and the trained weights' dtypes, compute, attention, tf32
    out_of_memory a run that runs out of memory saves its last step and says how to resume with a smaller batch
    head_init     a classifier's head started from class prototypes
    base_scores   the untrained base scored on the same test rows
    cpu_share     CPU cores shared between runs on one machine
    trial_pruning a sweep's trial reporting to Optuna

Imports: base, models, methods, data, tasks, augment, distill, judge, config.
"""
