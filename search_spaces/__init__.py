"""Search spaces, input data and ground-truth readers. Knows nothing about proxies."""
from search_spaces.base import (  # noqa: F401
    SPACES,
    ArchParseError,
    SearchSpace,
    TaskInfo,
    derive_seed,
    get_space,
    parse_tuple_key,
    list_spaces,
    register_space,
    seeded_build,
)
from search_spaces import nb201, darts, nb101, nb301, tnb101, autoformer, nasbench_bert  # noqa: F401,E402  (registration on import)
from search_spaces import nb201_readers  # noqa: F401,E402  (the NB201 ground-truth formats)
