"""Reading UTKFace: labels from file names, image sources, the split, arrays and augmentation."""
