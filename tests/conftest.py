"""Test modules may write ``from judges import ...`` or ``from tests.judges import ...``:
both names refer to the same module object."""

import sys

from tests import judges

sys.modules.setdefault("judges", judges)
