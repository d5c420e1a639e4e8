"""pytest plugin (``-p tests.recipes.plugin``): registers the throwaway block and family before the test modules are
collected, as discovery would have if their files lived in effnets/blocks/ and effnets/models/."""

from effnets.blocks import sort_registry
from effnets.models import sort_registries
from tests.recipes import toy_block, toy_family  # noqa: F401  (registration is the import)

sort_registry()
sort_registries()
