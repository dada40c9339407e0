"""Reading the labelled sources (UTKFace, FairFace, All-Age-Faces): labels, image sources, the split, arrays and
augmentation."""
