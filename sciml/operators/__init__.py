"""Neural operators: FNO presets on neuraloperator (TFNO, MG-TFNO and LSM join next)."""

from sciml.operators._fno import fno

__all__ = ["fno"]
