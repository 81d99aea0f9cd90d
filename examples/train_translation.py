"""Train an "Attention Is All You Need" translator with plain `model.fit`.

The package's main job (`make demo`), the same run as `keras-transformer
train`: the code is `keras_transformer.jobs.train_translation`, which this
script calls, so the example and the command line never drift apart.

    python -m examples.train_translation --help
"""

import sys

from keras_transformer.jobs.train_translation import main

if __name__ == "__main__":
    main(sys.argv[1:])
