"""The VGG feature losses moved to vaest.measure.feature_loss, where the stylizer may use them too
(vaest/stylize never imports vaest/models); these names stay until the trainers import them from
there."""

from vaest.measure.feature_loss import (
    FeatureDistance,
    SlicedWasserstein,
    StyleLoss,
    gram_matrices,
    pools_from_tiles,
)

__all__ = ["FeatureDistance", "SlicedWasserstein", "StyleLoss", "gram_matrices", "pools_from_tiles"]
