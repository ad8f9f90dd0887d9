"""Type stubs of the extension module ``ferrite._native`` (the Rust half of the
package; use the ``ferrite`` API instead)."""

from typing import List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

class Model:
    def __new__(
        cls,
        data: bytes,
        public_keys: Optional[List[bytes]] = None,
        min_version: int = 0,
    ) -> "Model": ...
    @property
    def signature(self) -> Optional[Tuple[bytes, int]]:
        """``(key_id, model_version)`` of a signed model, ``None`` if unsigned."""
    @property
    def layout(self) -> Tuple[int, int, int, bool]:
        """``(row_width, output_width, batch, has_preprocessing)``."""
    def info_json(self) -> str: ...
    def file_bytes(self) -> bytes: ...
    def predict(
        self, x: npt.NDArray[np.float32], labels: bool
    ) -> Tuple[npt.NDArray[np.float32], Optional[npt.NDArray[np.int64]]]: ...
    def predict_labels(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]: ...
    def preprocess(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    def check_golden(self) -> int: ...
    def validate(
        self,
        onnx: bytes,
        x: npt.NDArray[np.float32],
        labels: Optional[List[int]],
        min_agreement: float,
        max_abs_error: Optional[float],
        per_layer: bool,
        per_layer_rows: int,
    ) -> Tuple[str, str]: ...

def convert(
    onnx: bytes,
    *,
    precision: str,
    calibration: Optional[npt.NDArray[np.float32]],
    calibration_method: str,
    input_shapes: Sequence[Tuple[str, Sequence[int]]],
    name: Optional[str],
    version: Optional[str],
    description: Optional[str],
    labels: Sequence[str],
    source_name: Optional[str],
    golden: int,
    per_tensor_weights: bool,
    int8_input: bool,
    batch: int,
    baseline: Optional[npt.NDArray[np.float32]],
    baseline_bins: int,
) -> Tuple[bytes, str]: ...
def version() -> str: ...

class Monitor:
    def __new__(cls, model: Model, window: int) -> "Monitor": ...
    def update(
        self,
        x: npt.NDArray[np.float32],
        outputs: Optional[npt.NDArray[np.float32]] = None,
    ) -> None: ...
    def predict(
        self, x: npt.NDArray[np.float32], labels: bool
    ) -> Tuple[npt.NDArray[np.float32], Optional[npt.NDArray[np.int64]]]: ...
    def report_json(self) -> str: ...
    def prometheus(self, labels: List[Tuple[str, str]] = ...) -> str: ...
    def snapshot(self) -> bytes: ...
    def restore(self, snapshot: bytes) -> None: ...
    def reset(self) -> None: ...
    @property
    def rows(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def memory_bytes(self) -> int: ...
