"""The trainer service: fine-tunes a round's target once its dense labelling is finished (Algorithm 1, line 8)."""
