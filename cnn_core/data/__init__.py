"""Data: the catalogue of datasets (torch-free), loading them as uint8 tensors, the generated
shapes, and what users upload, checked for safety."""
