"""Training.

config.py       TrainConfig, one run's settings (torch-free)
schedules.py    learning-rate schedules (torch-free)
steps.py        the named steps: make_model, make_optimizer, make_scheduler, train_one_epoch, evaluate
objective.py    the loss and the probabilities that follow the network's output layer
loop.py         run_training: the steps composed over a run directory, with resume
checkpoints.py  checkpoint files: atomic, verified, the last two kept
randomness.py   every random draw as a function of (seed, epoch, step)
device_data.py  a split resident on the training device
augment.py      batched augmentation on the training device
devices.py      which device, cuDNN's settings and torch's deterministic algorithms
environment.py  the versions and git commit a run was trained with (environment.json)
weights.py      the final model.safetensors
estimate.py     the Train page's time per epoch, measured as the worker trains
"""
