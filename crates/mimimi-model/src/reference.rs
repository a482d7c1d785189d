//! The PyTorch reference implementation's parameter names (marcpinet/mimimi), mapped to and from
//! [`Network`] (the state dict itself, read from a file: [`crate::state_dict`]).
//!
//! The reference holds each complex BN shift and running mean as a complex64 `[C]` tensor;
//! here, and in safetensors exports of it, they are `[C, 2]` (real, imaginary). Linear weights
//! are `[out, in]` in PyTorch and `[in, out]` in burn. `num_batches_tracked` is ignored (the
//! reference never increments it).

use crate::config::{AttentionGate, BLOCKS, NetworkConfig};
use crate::network::Network;
use crate::state_dict::{HostTensor, ImportError, StateDict, num_classes};
use burn::module::{Param, RunningState};
use burn::tensor::{Device, Tensor, TensorData};

struct Loader<'a> {
    dict: &'a StateDict,
    device: &'a Device,
}

impl Loader<'_> {
    fn get(&self, name: &str, expected: &[usize]) -> Result<&HostTensor, ImportError> {
        let t = self
            .dict
            .get(name)
            .ok_or_else(|| ImportError::Missing(name.into()))?;
        if t.shape != expected {
            return Err(ImportError::Shape {
                name: name.into(),
                found: t.shape.clone(),
                expected: expected.to_vec(),
            });
        }
        Ok(t)
    }

    fn tensor<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
    ) -> Result<Tensor<D>, ImportError> {
        let t = self.get(name, &shape)?;
        Ok(Tensor::from_data(
            TensorData::new(t.data.clone(), shape),
            self.device,
        ))
    }

    fn param<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
    ) -> Result<Param<Tensor<D>>, ImportError> {
        Ok(Param::from_tensor(self.tensor(name, shape)?))
    }

    /// A `[C, 2]` complex tensor as its (real, imaginary) `[C]` parts.
    fn complex(&self, name: &str, c: usize) -> Result<(Tensor<1>, Tensor<1>), ImportError> {
        let t = self.tensor::<2>(name, [c, 2])?;
        Ok((
            t.clone().narrow(1, 0, 1).reshape([c]),
            t.narrow(1, 1, 1).reshape([c]),
        ))
    }

    /// A PyTorch Linear weight `[out, in]`, transposed to burn's `[in, out]`.
    fn linear_weight(
        &self,
        name: &str,
        d_in: usize,
        d_out: usize,
    ) -> Result<Param<Tensor<2>>, ImportError> {
        Ok(Param::from_tensor(
            self.tensor::<2>(name, [d_out, d_in])?.transpose(),
        ))
    }
}

/// Builds a [`Network`] from a reference state dict (class count taken from it).
pub fn network_from_state_dict(
    dict: &StateDict,
    gate: AttentionGate,
    device: &Device,
) -> Result<(Network, NetworkConfig), ImportError> {
    let n = num_classes(dict)?;
    let config = NetworkConfig::new(n).with_gate(gate);
    let mut net = Network::new(&config, device);
    let l = Loader { dict, device };
    let mut c_in = 1;
    for (i, (block, spec)) in net.blocks.iter_mut().zip(BLOCKS.iter()).enumerate() {
        let c = spec.channels;
        let [kf, kt] = spec.kernel;
        let p = format!("complex_layers.{i}");
        for (conv, part) in [
            (&mut block.conv.real, "conv_real"),
            (&mut block.conv.imag, "conv_imag"),
        ] {
            conv.weight = l.param(&format!("{p}.conv.{part}.weight"), [c, c_in, kf, kt])?;
            conv.bias = Some(l.param(&format!("{p}.conv.{part}.bias"), [c])?);
        }
        block.bn.gamma = l.param(&format!("{p}.bn.weight"), [c])?;
        let (beta_re, beta_im) = l.complex(&format!("{p}.bn.bias"), c)?;
        block.bn.beta_re = Param::from_tensor(beta_re);
        block.bn.beta_im = Param::from_tensor(beta_im);
        let (mean_re, mean_im) = l.complex(&format!("{p}.bn.running_mean"), c)?;
        block.bn.running_mean_re = RunningState::new(mean_re);
        block.bn.running_mean_im = RunningState::new(mean_im);
        let running_var = l.tensor(&format!("{p}.bn.running_var"), [c])?;
        block.bn.running_var = RunningState::new(running_var.clone());
        block.bn.running_var_im = RunningState::new(running_var);
        block.activation.alpha_re = l.param(&format!("{p}.activation.prelu_real.weight"), [c])?;
        block.activation.alpha_im = l.param(&format!("{p}.activation.prelu_imag.weight"), [c])?;
        c_in = c;
    }
    let convs = [
        (&mut net.magnitude_conv, "magnitude_conv", [4, 45, 5, 1]),
        (&mut net.complex_conv, "complex_conv", [4, 90, 5, 1]),
        (&mut net.attention.conv, "attention.conv", [8, 8, 3, 1]),
        (&mut net.total_conv, "total_conv", [4, 8, 1, 1]),
    ];
    for (conv, name, shape) in convs {
        conv.weight = l.param(&format!("{name}.weight"), shape)?;
        conv.bias = Some(l.param(&format!("{name}.bias"), [shape[0]])?);
    }
    let linears = [
        (&mut net.attention.fc1, "attention.fc1", 8, 32),
        (&mut net.attention.fc2, "attention.fc2", 32, 8),
        (&mut net.classifier_magnitude, "classifier_magnitude", 4, n),
        (&mut net.classifier_complex, "classifier_complex", 4, n),
        (&mut net.classifier_total, "classifier_total", 4, n),
    ];
    for (layer, name, d_in, d_out) in linears {
        layer.weight = l.linear_weight(&format!("{name}.weight"), d_in, d_out)?;
        layer.bias = Some(l.param(&format!("{name}.bias"), [d_out])?);
    }
    Ok((net, config))
}
