"""Input limits: the one place that says how big or small an upload may be.

The image loader, the CLI and the app all read these, and the README's "Input
limits" section documents them.
"""

from __future__ import annotations

# Largest file accepted, checked before anything is decoded. A 64-megapixel phone
# JPEG is 15-30 MB; anything bigger is almost surely not a photo (or an
# uncompressed TIFF that would not fit the pixel limit anyway).
MAX_FILE_BYTES = 50 * 1024 * 1024

# Largest image accepted, in pixels, read from the file header before decoding so a
# decompression bomb is rejected without allocating its pixels. 70 MP lets every
# phone or camera photo up to 64 MP sensors (9248x6936) through and keeps one decoded
# RGB image under ~210 MB; 108 MP and 200 MP full-resolution frames are refused.
# Pillow's own bomb check is set to this value too (see image_loading).
MAX_PIXELS = 70_000_000

# Most pixels a photo is worked on at. A larger JPEG (a 48- or 64-megapixel phone photo, or a few kilobytes whose
# header claims 8000x8000) is decoded at 1/2, 1/4 or 1/8 of its size (libjpeg's DCT scaling, Pillow's draft mode):
# the least reduction that fits, so decoding costs at most what a 25-megapixel photo costs (~75 MB as RGB). A larger
# image of another format (a 6000x6000 PNG) is decoded whole and averaged down as much at once, so the photos
# waiting for the detector hold at most this many pixels each. Every 24-megapixel camera photo
# (6000x4000) is still used at full size; the face detector works at 1600 px a side.
DECODE_PIXELS = 25_000_000

# A multipart upload's boundaries and part headers, beside the file's bytes: what an upload may hold on top of
# its file's limit (the API's requests, the app's uploads).
MULTIPART_SLACK = 64 * 1024

# Most images one process decodes at the same time (more wait): its peak decoding memory is that of this many
# MAX_PIXELS images, however many uploads or requests arrive together: 0.43 GB at the peak of a 70-megapixel RGB PNG,
# up to 0.67 GB for a palette PNG with transparency (benchmarks/RESULTS.md, "Decoding memory by mode"). Two keep both
# cores of a small machine busy on a set of large photos (a 6000x6000 PNG takes 0.65 s to decode). The HTTP API
# decodes one at a time (``image_loading.decode_one_at_a_time``), so its event loop keeps a core.
DECODES_AT_ONCE = 2

# Smallest face, in pixels of the uploaded image, that can be found and used:
# the face detector drops smaller boxes (FaceDetector's min_face_px). A smaller face would be blown up more than
# ten times into the 200 px aligned crop and carries no usable detail.
MIN_FACE_PX = 20

# Smallest width or height of an image: one that cannot hold a MIN_FACE_PX face
# is refused with a clear message instead of silently finding no face.
MIN_IMAGE_SIDE = MIN_FACE_PX

# Most scans a JPEG may have. Ordinary progressive JPEGs have about 10; a crafted
# one with thousands of tiny scans makes libjpeg re-process every coefficient per
# scan and can take minutes on a file of a few MB.
MAX_JPEG_SCANS = 1000

# The app's Batch page: at most this many photos (counting those inside archives) and this many bytes of uploads
# (archives counted at their own size) per batch: a batch must finish within about as long as anyone waits for a
# web page on a small server (benchmarks/RESULTS.md has the measured photos per second); bigger jobs belong to
# ``python -m face2data batch``, which has no such limits. The byte limit is also the per-file upload limit of the
# page (server.maxUploadSize).
MAX_BATCH_FILES = 500
MAX_BATCH_BYTES = 200 * 1024 * 1024

# Labelled sets of up to this many images are aligned in the calling process; larger ones in worker processes
# (each worker starts by loading the detector, which pays off only for real data sets).
SMALL_SOURCE = 500

# Most images the served model (LiteRT) runs in one call. Its tensor arena grows with the batch (measured: +45 MB
# at 32 images, +180 MB at 128, and it stays allocated), while the time per image is flat from about 16 on: a
# longer batch (an evaluation's 64 faces and their mirror images) is run in parts of this size.
MODEL_RUN_BATCH = 32
