"""Honest evaluation: metric maths and the evaluation run over a UTKFace source."""
