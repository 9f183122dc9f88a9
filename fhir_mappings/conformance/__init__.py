"""The product's own FHIR conformance package and an offline validator.

- `definitions`: builds the package (StructureDefinitions of the product's extensions and profiles, ValueSets over
  the product CodeSystems, the package manifest) and our own compact rule sets for the nl-core and Koppeltaal 2.0
  profiles the mapping claims. Pure; `tools/conformance_build.py` writes it as JSON under `package/` and `claimed/`.
- `validator`: checks a resource against those definitions (pure: definitions in, issues out).
- `loader`: reads the shipped JSON (importlib.resources) into a ready `Validator`.

See docs/conformance.md.
"""
