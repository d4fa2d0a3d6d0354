"""Training.

config.py       TrainConfig, one run's settings (torch-free)
schedules.py    learning-rate schedules (torch-free)
steps.py        the named steps: make_model, make_optimizer, make_scheduler, train_one_epoch, evaluate
loop.py         run_training: the steps composed over a run directory, with resume
checkpoints.py  checkpoint files: atomic, verified, the last two kept
randomness.py   every random draw as a function of (seed, epoch, step)
device_data.py  a split resident on the training device
augment.py      batched augmentation on the training device
devices.py      which device, and cuDNN's settings
weights.py      the final model.safetensors
estimate.py     seconds per training step, for the Train page
"""
