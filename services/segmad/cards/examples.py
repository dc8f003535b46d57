"""Builders that python cards name as their entry, for models whose constructor takes a config object.

    format: python
    entry: segmad.cards.examples:segformer
    kwargs: {num_labels: 9, hidden_sizes: [16, 32, 64, 128], depths: [1, 1, 1, 1]}
    output: {key: logits}          # SegFormer answers logits at a quarter of the input's size

Any importable function works the same way (torchvision's `deeplabv3_resnet50`, an mmsegmentation
`init_model`, a team's own); these exist because Hugging Face models are built from a config.
"""

from __future__ import annotations


def segformer(**config):
    """A Hugging Face SegFormer for semantic segmentation from SegformerConfig fields (random init).

    Its forward returns a SemanticSegmenterOutput whose `logits` are (N, num_labels, H/4, W/4).
    """
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    return SegformerForSemanticSegmentation(SegformerConfig(**config))
