"""Fix: fine-tuning data2vec v1 text keeps (and trains next to) its pretraining-only modules.

data2vec's README fine-tunes v1 text on GLUE with the model it was pretrained with. When
sentence_prediction registers a classification head, upstream still keeps the regression head
and, at the first ``set_num_updates``, builds an EMA teacher that is then updated every step:
a second copy of the encoder in memory and an EMA step per update, neither used by the loss.
Upstream has ``remove_pretraining_modules`` for this but nothing calls it. Registering a
classification head now drops the regression head, LM head and teacher; the checkpoint's
``regression_head.*`` and ``_ema`` entries are then discarded by upstream's own upgrade code.
"""
from .signature import install_wrapper


def data2vec_text_finetuning_mode():
    """A data2vec_text model with a classification head is a fine-tuning model: no teacher."""
    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextModel

    def wrap(original):
        def register_classification_head(self, name, num_classes=None, inner_dim=None, **kwargs):
            original(self, name, num_classes, inner_dim, **kwargs)
            self.encoder.regression_head = None
            self.encoder.lm_head = None
            self.encoder.ema = None

        return register_classification_head

    install_wrapper(Data2VecTextModel, "register_classification_head",
                    "self, name, num_classes=None, inner_dim=None, **kwargs", wrap, "finetuning_mode")
