"""Search spaces, input data and ground-truth readers. Knows nothing about proxies."""
from search_spaces.base import (  # noqa: F401
    SPACES,
    ArchParseError,
    SearchSpace,
    TaskInfo,
    derive_seed,
    get_space,
    list_spaces,
    register_space,
    seeded_build,
)
from search_spaces import nb201, darts  # noqa: F401,E402  (registration on import)
