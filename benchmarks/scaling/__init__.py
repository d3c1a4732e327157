"""Backends side by side: threads vs Ray on CPU-bound rollouts, threads vs async on LM-latency-bound ones."""
