# Runs Ironic 29's inspection rules engine over JSON cases on stdin and
# prints each case's outcome: node fields, traits, ports, plugin data, or
# the error message.
import json, sys
from ironic.common.inspection_rules import engine
from ironic.common import exception
from ironic import objects
objects.register_all()
import ironic.conf
ironic.conf.CONF([], project='ironic', default_config_files=[])

class Obj:
    def __init__(self, fields):
        object.__setattr__(self, '_f', dict(fields))
    def __getattr__(self, k):
        f = object.__getattribute__(self, '_f')
        if k in f:
            return f[k]
        raise AttributeError("'%s' object has no attribute '%s'" % (type(self).__name__, k))
    def __setattr__(self, k, v):
        f = object.__getattribute__(self, '_f')
        if k in f:
            f[k] = v
    def __delattr__(self, k):
        f = object.__getattribute__(self, '_f')
        if k not in f:
            raise AttributeError(k)
    def save(self):
        pass

class Node(Obj):
    pass

class Port(Obj):
    pass

class Task:
    pass

TRAITS = []
class Trait:
    def __init__(self, ctx, node_id, trait):
        self.trait = trait
    def create(self):
        if self.trait not in TRAITS:
            TRAITS.append(self.trait)
    @staticmethod
    def destroy(ctx, node_id, trait):
        if trait not in TRAITS:
            raise exception.NodeTraitNotFound(node_id=node_id, trait=trait)
        TRAITS.remove(trait)

objects.Trait = Trait
from ironic.common.inspection_rules import actions as A
A.objects = objects

out = []
for case in json.load(sys.stdin):
    TRAITS[:] = case.get('traits', [])
    rules = case['rules']
    for r in rules:
        r.setdefault('phase', 'main'); r.setdefault('priority', 0); r.setdefault('conditions', [])
    engine.objects.InspectionRule.list = staticmethod(lambda context=None, filters=None: [r for r in rules if r.get('phase') == filters['phase']])
    engine.get_built_in_rules = lambda: []
    ironic.conf.CONF.set_override('mask_secrets', case.get('mask', 'always'), group='inspection_rules')
    t = Task()
    t.context = None
    fields = case['node']
    t.node = Node(dict(fields, id=1, uuid=case.get('uuid', '1be26c0b-03f2-4d2e-ae87-c02d7f33c123')))
    t.ports = [Port(p) for p in case.get('ports', [])]
    pd = case.get('plugin_data', {})
    try:
        engine.apply_rules(t, case.get('inventory', {}), pd, 'main')
        f = object.__getattribute__(t.node, '_f')
        out.append({'node': {k: f[k] for k in fields}, 'traits': TRAITS[:],
                    'ports': [object.__getattribute__(p, '_f') for p in t.ports], 'plugin_data': pd})
    except Exception as e:
        out.append({'error': str(e)})
def unwrap(o):
    from ironic.common.inspection_rules import utils as U
    if isinstance(o, U.ShallowMaskList):
        return o._original
    if isinstance(o, U.ShallowMaskDict):
        return o._data
    raise TypeError(type(o))
json.dump(out, sys.stdout, default=unwrap)
