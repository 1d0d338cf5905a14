"""Model ``data2vec_captioning``: a vision encoder from any supported pretraining checkpoint
(data2vec v1 / 2.0, data2vec_dino, MAE: evaluation/vision_backbones.py) and fairseq's
``TransformerDecoder`` cross-attending to its output tokens (CLS and patches, projected to the
decoder's width). The encoder is frozen (``freeze_encoder``, its dropout off) or trained further
with its own learning rate (``encoder_lr_scale``, through the composite optimizer's per-parameter
``optim_overrides``, as data2vec 2.0's layer decay does). Train with upstream's
``label_smoothed_cross_entropy``; decode with the task's ``build_generator`` (fairseq's
SequenceGenerator: this is a ``FairseqEncoderDecoderModel``).
"""
from dataclasses import dataclass, field

import torch
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import FairseqEncoder, FairseqEncoderDecoderModel, register_model
from fairseq.models.transformer import TransformerConfig, TransformerDecoderBase
from omegaconf import II

from ..errors import ConfigError


@dataclass
class Data2VecCaptioningConfig(FairseqDataclass):
    encoder_checkpoint: str = field(default="", metadata={"help": "a vision pretraining checkpoint (the encoder)"})
    encoder_weights: ChoiceEnum(["auto", "teacher", "student"]) = field(default="auto", metadata={
        "help": "auto: the EMA teacher where the checkpoint has one, else the student"})
    freeze_encoder: bool = field(default=True, metadata={"help": "keep the encoder fixed (eval mode, no gradients)"})
    encoder_lr_scale: float = field(default=0.1, metadata={"help": "encoder lr = lr x this, when not frozen"})
    decoder_embed_dim: int = 512
    decoder_ffn_embed_dim: int = 2048
    decoder_layers: int = 6
    decoder_attention_heads: int = 8
    decoder_normalize_before: bool = True
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    share_decoder_input_output_embed: bool = True
    max_target_positions: int = II("task.max_target_positions")


class ImageEncoder(FairseqEncoder):
    """Images (B, 3, H, W) -> fairseq's encoder_out dict of the backbone's tokens, (T, B, C)."""

    def __init__(self, backbone, out_dim, freeze, lr_scale):
        super().__init__(dictionary=None)
        self.backbone, self.freeze = backbone, freeze
        dim = backbone.tokens(torch.zeros(1, 3, backbone.image_size, backbone.image_size)).size(-1)
        self.proj = torch.nn.Linear(dim, out_dim)
        self.norm = torch.nn.LayerNorm(out_dim)
        for p in backbone.parameters():
            if freeze:
                p.requires_grad_(False)
            else:
                p.optim_overrides = {"optimizer": {"lr_scale": lr_scale}}

    def train(self, mode=True):
        super().train(mode)
        if self.freeze:
            self.backbone.eval()  # a frozen encoder keeps its dropout / drop-path off
        return self

    def forward(self, source, **unused):
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            x = self.backbone.tokens(source)
        x = self.norm(self.proj(x.to(self.proj.weight.dtype)))
        return {"encoder_out": [x.transpose(0, 1)], "encoder_padding_mask": [], "encoder_embedding": [],
                "encoder_states": [], "src_tokens": [], "src_lengths": []}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {**encoder_out, "encoder_out": [encoder_out["encoder_out"][0].index_select(1, new_order)]}

    def max_positions(self):
        return int(1e6)


def decoder_config(cfg):
    t = TransformerConfig()
    t.decoder.embed_dim, t.decoder.ffn_embed_dim = cfg.decoder_embed_dim, cfg.decoder_ffn_embed_dim
    t.decoder.layers, t.decoder.attention_heads = cfg.decoder_layers, cfg.decoder_attention_heads
    t.decoder.normalize_before, t.decoder.learned_pos = cfg.decoder_normalize_before, True
    t.decoder.output_dim, t.decoder.input_dim = cfg.decoder_embed_dim, cfg.decoder_embed_dim
    t.encoder.embed_dim = cfg.decoder_embed_dim  # the encoder's tokens are projected to the decoder's width
    t.dropout, t.attention_dropout, t.activation_dropout = cfg.dropout, cfg.attention_dropout, cfg.activation_dropout
    t.share_decoder_input_output_embed = cfg.share_decoder_input_output_embed
    t.max_target_positions = cfg.max_target_positions
    return t


@register_model("data2vec_captioning", dataclass=Data2VecCaptioningConfig)
class Data2VecCaptioningModel(FairseqEncoderDecoderModel):
    @classmethod
    def build_model(cls, cfg, task):
        from ..evaluation.vision_backbones import load_backbone

        if not cfg.encoder_checkpoint:
            raise ConfigError("model.encoder_checkpoint: give the vision pretraining checkpoint of the encoder")
        backbone, _ = load_backbone(cfg.encoder_checkpoint, str(cfg.encoder_weights))
        encoder = ImageEncoder(backbone, cfg.decoder_embed_dim, cfg.freeze_encoder, cfg.encoder_lr_scale)
        d = task.target_dictionary
        embed = torch.nn.Embedding(len(d), cfg.decoder_embed_dim, padding_idx=d.pad())
        torch.nn.init.normal_(embed.weight, mean=0, std=cfg.decoder_embed_dim ** -0.5)
        torch.nn.init.constant_(embed.weight[d.pad()], 0)
        decoder = TransformerDecoderBase(decoder_config(cfg), d, embed)
        return cls(encoder, decoder)

    def forward(self, source, prev_output_tokens, padding_mask=None, **kwargs):  # images have no padding
        return self.decoder(prev_output_tokens, encoder_out=self.encoder(source), **kwargs)

    def max_decoder_positions(self):
        return self.decoder.max_positions()
