"""The data layer: the HDF5 schema, datasets yielding dict batches, normalizers, generators."""

from sciml.data.datasets import FieldDataset, SampleDataset, TrajectoryDataset, split_indices
from sciml.data.importers import ImportedFieldDataset, convert_to_sciml, detect_format, open_dataset
from sciml.data.schema import (
    SCHEMA_VERSION,
    FieldsWriter,
    FileInfo,
    Provenance,
    SamplesWriter,
    TrajectoriesWriter,
    content_checksum,
    open_h5,
    validate,
    write_fields,
    write_samples,
    write_trajectories,
)
from sciml.data.transforms import ChannelNormalizer, Normalized, fit_normalizers

__all__ = [
    "SCHEMA_VERSION",
    "Provenance",
    "FieldsWriter",
    "TrajectoriesWriter",
    "SamplesWriter",
    "write_fields",
    "write_trajectories",
    "write_samples",
    "open_h5",
    "validate",
    "content_checksum",
    "FileInfo",
    "FieldDataset",
    "TrajectoryDataset",
    "SampleDataset",
    "split_indices",
    "ChannelNormalizer",
    "Normalized",
    "fit_normalizers",
    "open_dataset",
    "detect_format",
    "convert_to_sciml",
    "ImportedFieldDataset",
]
