// Build-time tool: renders the SVG app icon into the PNG sizes of the hicolor
// icon theme (and an .ico for the Windows installer), so the SVG stays the one
// source of the icon and no image tool outside Qt is needed.
//
//   sessionscope_rendericons SVG OUTDIR SIZE... [--ico FILE]
//
// writes OUTDIR/<SIZE>x<SIZE>/apps/<name of SVG>.png for every SIZE.

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QImageWriter>
#include <QPainter>
#include <QSvgRenderer>

#include <cstdio>

namespace {

int fail(const QString &message)
{
    std::fprintf(stderr, "sessionscope_rendericons: %s\n", qPrintable(message));
    return 1;
}

QImage render(QSvgRenderer &svg, int size)
{
    QImage image(size, size, QImage::Format_ARGB32_Premultiplied);
    image.fill(Qt::transparent);
    QPainter painter(&image);
    painter.setRenderHint(QPainter::Antialiasing);
    svg.render(&painter, QRectF(0, 0, size, size));
    painter.end();
    return image;
}

bool save(const QImage &image, const QString &path, const char *format, QString *error)
{
    if (!QDir().mkpath(QFileInfo(path).absolutePath())) {
        *error = QStringLiteral("cannot create the folder of %1").arg(path);
        return false;
    }
    QImageWriter writer(path, format);
    if (!writer.write(image)) {
        *error = QStringLiteral("%1: %2").arg(path, writer.errorString());
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QStringList args = QCoreApplication::arguments().mid(1);
    QString icoPath;
    if (const qsizetype at = args.indexOf(QStringLiteral("--ico")); at >= 0) {
        if (at + 1 >= args.size())
            return fail(QStringLiteral("--ico needs a file name"));
        icoPath = args.takeAt(at + 1);
        args.removeAt(at);
    }
    if (args.size() < 2 || (args.size() < 3 && icoPath.isEmpty()))
        return fail(QStringLiteral("usage: sessionscope_rendericons SVG OUTDIR SIZE... [--ico FILE]"));

    const QString svgPath = args.takeFirst();
    const QString outDir = args.takeFirst();
    QSvgRenderer svg(svgPath);
    if (!svg.isValid())
        return fail(QStringLiteral("%1 is not a readable SVG").arg(svgPath));
    const QString name = QFileInfo(svgPath).completeBaseName();

    QString error;
    for (const QString &arg : std::as_const(args)) {
        bool ok = false;
        const int size = arg.toInt(&ok);
        if (!ok || size < 8 || size > 1024)
            return fail(QStringLiteral("\"%1\" is not an icon size between 8 and 1024").arg(arg));
        const QString path = QStringLiteral("%1/%2x%2/apps/%3.png").arg(outDir).arg(size).arg(name);
        if (!save(render(svg, size), path, "png", &error))
            return fail(error);
    }
    // The Windows installer and shortcuts use one 256 px icon.
    if (!icoPath.isEmpty() && !save(render(svg, 256), icoPath, "ico", &error))
        return fail(error);
    return 0;
}
