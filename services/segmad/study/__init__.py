"""Does MAD beat cheaper selections? A grid of selectors × budgets × seeds, measured against the world's truth.

`grid` names the cells; `shared` computes, once per world seed, every prediction the selectors
read (the target's and competitors' maps as distances and class fractions, the target's entropy,
the true per-image mIoU); `selectors` are pure functions of those; `finetuning` is the one step a
cell spends minutes on, run in parallel processes; `run` plays the grid resumably into a results
file; `report` turns the results into study.json, tables and plots.
"""
