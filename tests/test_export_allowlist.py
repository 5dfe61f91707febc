"""The export check is an allowlist (vaest.export.trust): derived here from the exports vaest
makes for every model option, and refusing hostile exports, built here in temporary folders."""

from __future__ import annotations

import pytest

from vaest.errors import UserError


@pytest.mark.parametrize("kind", ["VaeConfig", "RefinerConfig"])
def test_an_activation_outside_the_named_set_is_refused_in_one_line(kind):
    from vaest.models import config

    with pytest.raises(UserError, match=r"^activation must be one of elu, .*, not 'softmax'$"):
        getattr(config, kind)(activation="softmax")
    with pytest.raises(UserError, match="activation must be one of"):
        getattr(config, kind).from_dict({"activation": "exponential"})
