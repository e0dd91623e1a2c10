"""Gallery order: by the number that starts each example's title ("2. Training ...")."""

import re
from pathlib import Path


class TitleNumberSortKey:
    """sphinx-gallery ``within_subsection_order``: numbered titles first, in order."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"

    def __call__(self, filename) -> tuple:
        text = (Path(self.src_dir) / filename).read_text(encoding="utf-8")
        number = re.search(r'^"""\s*(\d+)\.', text)
        return (int(number.group(1)) if number else 1000, str(filename))
