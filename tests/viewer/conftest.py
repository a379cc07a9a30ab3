"""Viewer tests draw with matplotlib's off-screen Agg backend: they open no window and need no screen."""

import matplotlib

from tests.helpers import one_thread_fixture

matplotlib.use("agg")

_one_thread = one_thread_fixture()
