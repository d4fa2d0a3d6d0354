"""Training: the run configuration, learning-rate schedules, batched augmentation, the loop
(train_one_epoch, evaluate, run_training), checkpoints and the final weights."""
