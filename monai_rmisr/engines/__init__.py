"""Training and evaluation engines (Ignite, through MONAI's engines) and their handlers."""

from .batch import prepare_sr_batch
from .checkpoint import (
    RUN_LOCK_NAME,
    InitialWeightsLoader,
    ResumableCheckpointSaver,
    average_checkpoints,
    check_fresh_start,
    check_network_scales,
    check_resume_settings,
    claim_output_dir,
    evaluation_network,
    latest_checkpoint,
    release_output_dir,
)
from .ema import WeightEMA
from .evaluator import SREvaluator, SRImageQuality, to_luma
from .handlers import (
    DataSummaryHandler,
    EpochSamplerHandler,
    InitialValidationHandler,
    InterruptedRunHandler,
    MetricsCSVHandler,
    ModelConfigSaver,
    ProgressBarHandler,
)
from .run_record import RUN_RECORD_NAME, RunEndRecorder, read_run_record, record_run, setting_changes
from .trainer import SRTrainer, autocast_dtype, random_scale_batch

__all__ = [
    "RUN_LOCK_NAME",
    "RUN_RECORD_NAME",
    "DataSummaryHandler",
    "EpochSamplerHandler",
    "InitialValidationHandler",
    "InitialWeightsLoader",
    "InterruptedRunHandler",
    "MetricsCSVHandler",
    "ModelConfigSaver",
    "ProgressBarHandler",
    "ResumableCheckpointSaver",
    "RunEndRecorder",
    "SREvaluator",
    "SRImageQuality",
    "SRTrainer",
    "WeightEMA",
    "autocast_dtype",
    "average_checkpoints",
    "check_fresh_start",
    "check_network_scales",
    "check_resume_settings",
    "claim_output_dir",
    "evaluation_network",
    "latest_checkpoint",
    "prepare_sr_batch",
    "random_scale_batch",
    "read_run_record",
    "record_run",
    "release_output_dir",
    "setting_changes",
    "to_luma",
]
