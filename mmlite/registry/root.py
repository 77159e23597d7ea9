"""mmlite's root registries. Downstream repos make children of these with their own scope.

``locations`` name the modules that register into each registry; they are imported on
the first lookup, so ``import mmlite.registry`` stays cheap.
"""
from .build_functions import build_model_from_cfg, build_runner_from_cfg, build_scheduler_from_cfg
from .registry import Registry

RUNNERS = Registry('runner', build_func=build_runner_from_cfg, scope='mmlite',
                   locations=['mmlite.runner'])
RUNNER_CONSTRUCTORS = Registry('runner constructor', scope='mmlite', locations=['mmlite.runner'])
LOOPS = Registry('loop', scope='mmlite', locations=['mmlite.runner'])
HOOKS = Registry('hook', scope='mmlite', locations=['mmlite.hooks'])
STRATEGIES = Registry('strategy', scope='mmlite')
DATASETS = Registry('dataset', scope='mmlite', locations=['mmlite.dataset'])
DATA_SAMPLERS = Registry('data sampler', scope='mmlite', locations=['mmlite.dataset'])
TRANSFORMS = Registry('transform', scope='mmlite', locations=['mmlite.dataset'])
MODELS = Registry('model', build_func=build_model_from_cfg, scope='mmlite',
                  locations=['mmlite.model'])
MODEL_WRAPPERS = Registry('model_wrapper', scope='mmlite', locations=['mmlite.model'])
WEIGHT_INITIALIZERS = Registry('weight initializer', scope='mmlite', locations=['mmlite.model'])
OPTIMIZERS = Registry('optimizer', scope='mmlite', locations=['mmlite.optim'])
OPTIM_WRAPPERS = Registry('optim_wrapper', scope='mmlite', locations=['mmlite.optim'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor', scope='mmlite',
                                      locations=['mmlite.optim'])
PARAM_SCHEDULERS = Registry('parameter scheduler', build_func=build_scheduler_from_cfg,
                            scope='mmlite', locations=['mmlite.optim'])
METRICS = Registry('metric', scope='mmlite', locations=['mmlite.evaluator'])
EVALUATOR = Registry('evaluator', scope='mmlite', locations=['mmlite.evaluator'])
TASK_UTILS = Registry('task util', scope='mmlite')
VISUALIZERS = Registry('visualizer', scope='mmlite', locations=['mmlite.visualization'])
VISBACKENDS = Registry('vis_backend', scope='mmlite', locations=['mmlite.visualization'])
LOG_PROCESSORS = Registry('log_processor', scope='mmlite', locations=['mmlite.runner'])
INFERENCERS = Registry('inferencer', scope='mmlite')
FUNCTIONS = Registry('function', scope='mmlite', locations=['mmlite.dataset'])
