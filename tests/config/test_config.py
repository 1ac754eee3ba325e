"""Loading configs: IMPSY's own files, defaults, typed values and every error class."""

from __future__ import annotations

from pathlib import Path

import pytest

from impsy.config import (
    MODEL_SIZES,
    Config,
    ConfigError,
    ModelSize,
    check_model_dimension,
    load_config,
    load_config_text,
    model_size,
)
from impsy.errors import ImpsyError
from impsy.mapping.spec import ControlChange, NoteOn, NoteVelocity, PitchBend
from tests.paths import DATA

IMPSY_CONFIGS = DATA / "impsy-configs"
NAME = "configs/x.toml"

CC8 = ", ".join(f'["control_change", 1, {n}]' for n in range(1, 9))
MIDI = f"""
[model]
dimension = 9

[midi]
in_device = ["X-TOUCH"]
out_device = ["Synth"]
input."X-TOUCH" = [{CC8}]
output."Synth" = [{CC8}]
"""


def load(text: str) -> Config:
    return load_config_text(text, NAME)


def error_for(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(text)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{NAME}: ")
    return message


# --- IMPSY's own files -------------------------------------------------------


# IMPSY ships these with a [websocket] section that has no mapping lists; IMPSY
# itself crashes on them with a KeyError, impsy refuses them with one line.
WEBSOCKET_WITHOUT_MAPPINGS = (
    "AiC-alec-u2midipro.toml",
    "andromeda-ableton.toml",
    "arturia-minilab3-analogV.toml",
    "op1-volca-fm.toml",
)
LOADABLE = [
    p for p in sorted(IMPSY_CONFIGS.glob("*.toml")) if p.name not in WEBSOCKET_WITHOUT_MAPPINGS
]


@pytest.mark.parametrize("path", LOADABLE, ids=lambda path: path.name)
def test_every_impsy_config_loads(path: Path) -> None:
    config = load_config(path)
    assert config.source == str(path)
    assert config.model.dimension in (4, 9, 17)
    assert config.interaction.mode in ("callresponse", "useronly")


@pytest.mark.parametrize("name", WEBSOCKET_WITHOUT_MAPPINGS)
def test_impsy_websocket_without_mappings_fails_with_one_line(name: str) -> None:
    path = IMPSY_CONFIGS / name
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: [websocket] input: missing required key; expected a list of 8 mapping "
        'entries (dimension 9 minus dt) like ["note_on", 1]'
    )


def test_impsy_folder_holds_all_seventeen_files() -> None:
    assert len(list(IMPSY_CONFIGS.glob("*.toml"))) == 17


def test_microfreak_has_a_note_and_seven_ccs_each_way() -> None:
    config = load_config(IMPSY_CONFIGS / "microfreak.toml")
    assert config.midi is not None
    assert config.midi.in_device == ("MicroFreak",)
    expected = (NoteOn(1),) + tuple(ControlChange(1, c) for c in (2, 5, 9, 10, 12, 13, 23))
    assert config.midi.input["MicroFreak"] == expected
    assert config.midi.output["MicroFreak"] == expected
    assert config.adapters == ("midi",)
    assert config.model.file == "models/musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"


def test_roland_quneo_thru_matrix_and_feedback_protection() -> None:
    config = load_config(IMPSY_CONFIGS / "roland-s-1-quneo.toml")
    assert config.midi is not None
    assert config.midi.feedback_protection is True
    assert config.midi.feedback_threshold == 0.02
    assert dict(config.midi.thru_matrix) == {"QuNeo": ("S-1",), "S-1": ("QuNeo",)}
    assert config.midi.out_device == ("S-1", "QuNeo")


def test_xtouch_ranged_control_changes_keep_their_range() -> None:
    config = load_config(IMPSY_CONFIGS / "roland-s-1-xtouch.toml")
    assert config.midi is not None
    assert config.midi.output["X-TOUCH"][0] == ControlChange(1, 9, 0, 13)


def test_user_only_example_has_no_model_and_dimension_17() -> None:
    config = load_config(IMPSY_CONFIGS / "user-only-example.toml")
    assert config.model.file is None
    assert config.model.dimension == 17
    assert config.interaction.mode == "useronly"


def test_impsy_default_enables_every_adapter_and_reads_webui_ports() -> None:
    config = load_config(IMPSY_CONFIGS / "default.toml")
    assert config.adapters == ("midi", "osc", "websocket", "serial", "serialmidi")
    assert config.serial is not None and config.serial.baudrate == 115200
    assert config.serialmidi is not None
    assert config.serialmidi.port == "/dev/ttyAMA0"
    assert config.serialmidi.baudrate == 31250
    assert config.webui is not None
    assert (config.webui.monitor_port, config.webui.command_port) == (4001, 4002)


def test_impsy_wildcard_osc_client_is_sent_to_localhost_with_a_warning() -> None:
    config = load_config(IMPSY_CONFIGS / "roland-s-1.toml")
    assert config.osc is not None
    assert config.osc.client_ip == "127.0.0.1"
    assert config.osc.server_ip == "0.0.0.0"
    assert any("[osc] client_ip" in w for w in config.warnings)


def test_metadata_keys_are_known() -> None:
    config = load('title = "t"\nowner = "o"\ndescription = "d"\nname = "n"\n')
    assert (config.title, config.owner, config.description, config.name) == ("t", "o", "d", "n")
    assert config.warnings == ()


# --- defaults and typed values -----------------------------------------------


def test_empty_file_gets_documented_defaults_and_no_adapters() -> None:
    config = load("")
    assert config.verbose is False
    assert config.log_input is True
    assert config.log_predictions is False
    assert config.interaction.mode == "callresponse"
    assert config.interaction.threshold == 0.1
    assert config.interaction.input_thru is False
    model = config.model
    assert (model.dimension, model.file, model.size) == (9, None, "s")
    assert (model.sigmatemp, model.pitemp, model.timescale) == (0.01, 1.0, 1.0)
    assert (model.seed, model.gate, model.engine) == (None, "auto", "auto")
    assert config.adapters == ()
    assert config.webui is None


def test_empty_sections_enable_adapters_with_defaults() -> None:
    config = load("[osc]\n[webui]\n")
    assert config.osc is not None
    assert (config.osc.server_ip, config.osc.server_port) == ("127.0.0.1", 6000)
    assert (config.osc.client_ip, config.osc.client_port) == ("127.0.0.1", 6001)
    assert config.osc.output_address == "/impsy"
    assert config.webui is not None
    assert (config.webui.host, config.webui.port, config.webui.token) == ("127.0.0.1", 4000, None)


def test_integers_are_accepted_where_floats_are_expected() -> None:
    config = load("[model]\npitemp = 2\ntimescale = 3\n[interaction]\nthreshold = 1\n")
    assert config.model.pitemp == 2.0 and isinstance(config.model.pitemp, float)
    assert config.model.timescale == 3.0
    assert config.interaction.threshold == 1.0


@pytest.mark.parametrize(
    ("written", "stored"),
    [("filter", "polyphony"), ("independent", "battle"), ("battle", "battle")],
)
def test_mode_aliases_are_stored_as_canonical_names(written: str, stored: str) -> None:
    assert load(f'[interaction]\nmode = "{written}"\n').interaction.mode == stored


def test_our_model_keys() -> None:
    config = load('[model]\nseed = 7\ngate = "hard_sigmoid"\nengine = "numpy"\nsize = "xl"\n')
    assert (config.model.seed, config.model.gate, config.model.engine) == (
        7,
        "hard_sigmoid",
        "numpy",
    )
    assert config.model.architecture == ModelSize(units=512, mixtures=5, layers=3)


def test_empty_model_file_means_no_model() -> None:
    assert load('[model]\nfile = ""\n').model.file is None


def test_model_file_is_kept_as_written() -> None:
    assert load('[model]\nfile = "../m/x.tflite"\n').model.file == "../m/x.tflite"


def test_midi_mapping_kinds_parse_to_typed_entries() -> None:
    text = """
[model]
dimension = 5
[midi]
in_device = ["K"]
virtual = true
input."K" = [
  ["note_on", 2, 90], ["note_velocity", 2], ["pitch_bend", 2], ["control_change", 2, 74, 10, 100],
]
"""
    config = load(text)
    assert config.midi is not None
    assert config.midi.virtual is True
    assert config.midi.input["K"] == (
        NoteOn(2, 90),
        NoteVelocity(2),
        PitchBend(2),
        ControlChange(2, 74, 10, 100),
    )


def test_websocket_and_serialmidi_mappings() -> None:
    cc2 = '[["note_on", 1], ["control_change", 1, 3]]'
    config = load(
        f"[model]\ndimension = 3\n[websocket]\nserver_port = 5002\ninput = {cc2}\noutput = {cc2}\n"
        f'[serialmidi]\nport = "/dev/ttyS1"\ninput = {cc2}\noutput = {cc2}\n'
    )
    assert config.websocket is not None
    assert config.websocket.server_port == 5002
    assert config.websocket.output == (NoteOn(1), ControlChange(1, 3))
    assert config.serialmidi is not None
    assert (config.serialmidi.port, config.serialmidi.baudrate) == ("/dev/ttyS1", 31250)
    assert config.serial is None


def test_serialmidi_without_port_falls_back_to_serial_port_with_a_warning() -> None:
    cc = '[["control_change", 1, 3]]'
    config = load(
        f'[model]\ndimension = 2\n[serial]\nport = "/dev/ttyAMA0"\n'
        f"[serialmidi]\ninput = {cc}\noutput = {cc}\n"
    )
    assert config.serialmidi is not None
    assert config.serialmidi.port == "/dev/ttyAMA0"
    assert any(w.startswith(f"{NAME}: [serialmidi] port:") for w in config.warnings)


def test_config_is_frozen() -> None:
    config = load("")
    with pytest.raises(AttributeError):
        config.verbose = True  # type: ignore[misc]


def test_model_size_table_matches_impsy() -> None:
    units = {name: size.units for name, size in MODEL_SIZES.items()}
    assert units == {"xxs": 16, "xs": 32, "s": 64, "m": 128, "l": 256, "xl": 512}
    assert {size.mixtures for size in MODEL_SIZES.values()} == {5}
    assert [name for name, size in MODEL_SIZES.items() if size.layers != 2] == ["xl"]
    assert model_size("m") == ModelSize(128, 5, 2)
    with pytest.raises(ImpsyError, match="unknown model size 'huge'; expected one of xxs"):
        model_size("huge")


# --- one test per error class -------------------------------------------------


def test_wrong_type_names_section_key_expectation_and_value() -> None:
    message = error_for('[model]\nsigmatemp = "low"\n')
    assert message == (
        f'{NAME}: [model] sigmatemp: expected a number greater than 0, got "low" (string)'
    )


def test_bool_is_not_accepted_as_an_integer() -> None:
    message = error_for("[model]\ndimension = true\n")
    assert "[model] dimension: expected an integer 2-256, got true (boolean)" in message


def test_wrong_type_at_top_level() -> None:
    message = error_for('verbose = "yes"\n')
    assert message == (
        f'{NAME}: top-level key verbose: expected a boolean (true or false), got "yes" (string)'
    )


def test_section_that_is_not_a_table() -> None:
    assert (
        error_for("osc = 5\n") == f"{NAME}: [osc]: expected a table (a [osc] section), got integer"
    )


def test_missing_required_key() -> None:
    message = error_for("[serial]\nbaudrate = 9600\n")
    assert message == f"{NAME}: [serial] port: missing required key; expected a string"


def test_missing_mapping_for_a_listed_device() -> None:
    message = error_for(MIDI.replace('output."Synth"', 'output."Other"'))
    assert message.startswith(f'{NAME}: [midi] output."Synth": missing; every out_device')
    assert "8 entries (dimension 9 minus dt)" in message


def test_websocket_with_only_one_mapping_list_is_an_error() -> None:
    message = error_for(f"[websocket]\ninput = [{CC8}]\n")
    assert message == (
        f"{NAME}: [websocket] output: missing required key; expected a list of 8 mapping "
        'entries (dimension 9 minus dt) like ["note_on", 1]'
    )


def test_short_mapping_list() -> None:
    text = MIDI.replace(', ["control_change", 1, 8]]\noutput', "]\noutput")
    message = error_for(text)
    assert message.startswith(f'{NAME}: [midi] input."X-TOUCH": has 7 entries')
    assert "expected exactly 8" in message


def test_short_mapping_list_says_when_dimension_was_defaulted() -> None:
    message = error_for(
        MIDI.replace("dimension = 9", "").replace(', ["control_change", 1, 8]]', "]")
    )
    assert message.endswith("[model] dimension is not set, so the default 9 applies")


def test_unknown_mapping_kind() -> None:
    message = error_for(MIDI.replace('input."X-TOUCH" = [', 'input."X-TOUCH" = [["cc", 1, 5], ', 1))
    assert message.startswith(
        f"{NAME}: [midi] input.\"X-TOUCH\": entry 1: unknown mapping kind 'cc'; "
        "expected one of note_on, note_velocity, control_change, pitch_bend"
    )


def test_unknown_mapping_kind_in_third_entry_matches_the_documented_example() -> None:
    entries = '["control_change", 1, 1], ["control_change", 1, 2], ["cc", 1, 3]'
    text = MIDI.replace(f'input."X-TOUCH" = [{CC8}]', f'input."X-TOUCH" = [{entries}]')
    assert error_for(text) == (
        f"{NAME}: [midi] input.\"X-TOUCH\": entry 3: unknown mapping kind 'cc'; "
        "expected one of note_on, note_velocity, control_change, pitch_bend"
    )


def test_out_of_range_channel_in_a_mapping() -> None:
    message = error_for(
        MIDI.replace(
            'output."Synth" = [["control_change", 1,', 'output."Synth" = [["control_change", 17,'
        )
    )
    assert message.startswith(
        f'{NAME}: [midi] output."Synth": entry 1: channel must be 1-16, got 17'
    )


@pytest.mark.parametrize("port", [0, 70000, -1])
def test_out_of_range_port(port: int) -> None:
    message = error_for(f"[osc]\nserver_port = {port}\n")
    assert message == f"{NAME}: [osc] server_port: expected an integer 1-65535, got {port}"


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("interaction", "threshold"),
        ("model", "timescale"),
        ("model", "sigmatemp"),
        ("model", "pitemp"),
    ],
)
def test_values_that_must_be_positive(section: str, key: str) -> None:
    message = error_for(f"[{section}]\n{key} = 0\n")
    assert message == f"{NAME}: [{section}] {key}: expected a number greater than 0, got 0"


def test_nan_is_refused() -> None:
    assert "expected a number greater than 0, got nan" in error_for("[model]\ntimescale = nan\n")


def test_unknown_mode_lists_modes_and_aliases() -> None:
    message = error_for('[interaction]\nmode = "duet"\n')
    assert message.startswith(f"{NAME}: [interaction] mode: expected one of callresponse, ")
    assert "filter (= polyphony)" in message and message.endswith('got "duet"')


def test_unknown_size() -> None:
    message = error_for('[model]\nsize = "xxl"\n')
    assert message == f'{NAME}: [model] size: expected one of xxs, xs, s, m, l, xl, got "xxl"'


def test_thru_matrix_to_an_unlisted_output() -> None:
    message = error_for(MIDI + 'thru_matrix."X-TOUCH" = ["Synht"]\n')
    assert message == (
        f'{NAME}: [midi] thru_matrix."X-TOUCH": "Synht" is not an out_device; '
        'expected names from out_device: "Synth"'
    )


def test_bad_osc_output_address() -> None:
    message = error_for('[osc]\noutput_address = "impsy"\n')
    assert message.startswith(
        f"{NAME}: [osc] output_address: expected an OSC address starting with /"
    )


def test_bad_toml_syntax_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[model]\ndimension = 9\nfile = "models/x.tflite\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: line 3, column ")
    assert "invalid TOML" in message


def test_toml_error_at_end_of_file_still_names_a_line() -> None:
    message = error_for("verbose = true\nlog_input =")
    assert message.startswith(f"{NAME}: line 2 (end of file): invalid TOML: Invalid value")


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: no such config file$"):
        load_config(path)


def test_config_error_is_an_impsy_error() -> None:
    with pytest.raises(ImpsyError):
        load("[osc]\nserver_port = 0\n")


def test_value_with_a_line_break_still_gives_one_line() -> None:
    message = error_for('[model]\nsize = """x\nl"""\n')
    assert message == f'{NAME}: [model] size: expected one of xxs, xs, s, m, l, xl, got "x\\nl"'


# --- unknown keys: warnings, not errors ---------------------------------------


def test_unknown_key_warning_names_file_section_key_and_suggestion() -> None:
    config = load("[model]\nsigma_temp = 0.5\n")
    assert config.warnings == (
        f"{NAME}: [model] sigma_temp: unknown key, ignored; did you mean sigmatemp?",
    )
    assert config.model.sigmatemp == 0.01


def test_unknown_top_level_key_and_section_warnings() -> None:
    config = load("colour = 1\n[oscc]\nserver_port = 1\n")
    assert config.warnings[0].startswith(f"{NAME}: top-level key colour: unknown key, ignored; ")
    assert config.warnings[1] == f"{NAME}: [oscc]: unknown key, ignored; did you mean osc?"
    assert config.osc is None


def test_mapping_for_an_unlisted_port_is_warned_about_not_used() -> None:
    config = load(MIDI + f'input."Old" = [{CC8}]\n')
    assert config.midi is not None and "Old" not in config.midi.input
    assert any(w.startswith(f'{NAME}: [midi] input."Old": no in_device') for w in config.warnings)


# --- dimension mismatch between config and model (IMPSY issue #79) ------------


def test_dimension_mismatch_names_both_numbers_both_files_and_the_fix() -> None:
    config = load(MIDI)
    with pytest.raises(ConfigError) as caught:
        check_model_dimension(config, 4, Path("models/dim4.tflite"))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{NAME}: [model] dimension: the config says 9 but the model file ")
    assert "models/dim4.tflite has dimension 4" in message
    assert "set dimension = 4 under [model] and give every mapping list 3 entries" in message


def test_matching_dimension_passes() -> None:
    assert check_model_dimension(load(MIDI), 9, "models/dim9.tflite") is None


def test_mapping_lengths_are_checked_against_the_model_too() -> None:
    # Built by hand, bypassing the loader, to show the check does not trust the dimension alone.
    config = load(MIDI)
    skewed = Config(source=config.source, model=type(config.model)(dimension=4), midi=config.midi)
    with pytest.raises(ConfigError, match=r'\[midi\] input."X-TOUCH": has 8 entries but the model'):
        check_model_dimension(skewed, 4, "m.tflite")
