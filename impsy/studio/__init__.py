"""Studios: where a model is trained, apart from where it is played.

A performer's machine (a laptop on stage, a Raspberry Pi in an
installation) plays; a studio trains. One interface, two backends:

* :mod:`~impsy.studio.local` - training in this process (what ``impsy train``
  always did), no new dependency; the default.
* :mod:`~impsy.studio.ray_studio` - a Ray cluster given by address (or a Ray
  started for the job): the dataset goes up once, content-addressed by its
  SHA-256 (:mod:`~impsy.studio.ray_remote` keeps it in the cluster's object
  store), the job runs on a worker that checkpoints every epoch, progress
  lines come back as they are printed, and the model files come back at the
  end. Ray is imported only by these two modules, only when a Ray studio is
  used: ``impsy run`` never loads it.

The rest is pure logic shared by both: :mod:`~impsy.studio.job` (what a job
carries), :mod:`~impsy.studio.reach` (whether a studio's address
answers), :mod:`~impsy.studio.sweep` (grids of trials, their table and the
best), and :mod:`~impsy.studio.live` with :mod:`~impsy.studio.commands` (the
``train`` and ``model`` rows of a running performance's command table).
"""
