"""Engines that run moodtune's analysis outside one process: ``ray_batch`` (Ray Data)."""
