"""A model's case: a function of a Context (tests/conformance/check.py) that raises Fail,
registered as @model_case("MODEL", "name")."""
from check import Case

CASES = []


class ModelCase(Case):
    def __init__(self, model, name, proto, func):
        super().__init__(model, name, proto, func, heavy=False)
        self.model = model


def model_case(model, name, proto="http"):
    def register(func):
        CASES.append(ModelCase(model, name, proto, func))
        return func
    return register
