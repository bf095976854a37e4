"""The end-to-end demonstration on the embedded digital twin (``ioflyby demo``)."""

from ioflyby.demo.pipeline import STAGES, DemoResult, DemoSettings, run_demo

__all__ = ["STAGES", "DemoResult", "DemoSettings", "run_demo"]
