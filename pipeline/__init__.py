"""The pipeline only arranges: source, synth, stages in order, approvals between them."""

from pipeline.pipeline_stack import PipelineStack

__all__ = ["PipelineStack"]
